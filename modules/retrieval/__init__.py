"""Retrieval for RAG: chunking, keyword (BM25), dense (sentence-transformers) and hybrid (RRF) search."""
