"""A lean S3 client: the data path of the mirror (listing, streaming copies, multipart)."""
