"""The rewrite stage: a question, and the conversation before it, to what is
searched and what the answer is judged against (base.py: `Rewritten`;
stage.py: `rewrite`, the one entry point; condense.py: the offline rules;
llm.py: the model's rewrite)."""
