"""What a model is told: instructions, prompts in a chat format, the GBNF grammars, the notes
schema."""
