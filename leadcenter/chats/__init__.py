"""Website chat: a company's chat widget (the snippet on its site and the iframe it opens), its visitors, and their
chats, which are interactions of kind chat offered to the widget's team like calls and texts."""
