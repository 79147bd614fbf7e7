"""Training: the Hugging Face Trainer assembled with textclf's collator, sampler, loss and callbacks."""
