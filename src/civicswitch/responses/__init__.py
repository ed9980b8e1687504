"""Response templates: the notes staff add to requests again and again, kept per service with placeholders."""
