"""Accounts: companies, the people who sign in (users, their sessions), their role in each company (memberships),
invitations to join one, and a company's API keys."""
