"""Companies, the people who sign in, and their role in each company."""
