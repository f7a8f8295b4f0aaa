"""The app's live data side: following runs as they are written, with no Textual import."""
