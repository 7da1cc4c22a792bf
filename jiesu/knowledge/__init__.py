"""The knowledge base (知识库): articles, their search, direct answers, and articles proposed from replies."""
