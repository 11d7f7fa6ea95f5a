"""The media endpoints: images, speech, transcription, OCR, and the stored files they return."""
