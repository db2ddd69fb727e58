"""Safe readers for the file formats sources and prediction share."""
