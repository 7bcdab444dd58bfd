"""Data: pretraining records (schema, writer, reader) and the fine-tuning datasets."""
