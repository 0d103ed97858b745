"""Photos and attachments: storage, access, upload."""
