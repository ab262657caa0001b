"""Glue for the Hugging Face Trainer and accelerate: events in, engine calls out."""
