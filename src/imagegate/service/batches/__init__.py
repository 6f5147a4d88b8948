"""OpenAI's Batch API for images: files (`files`), batches (`batches`), the loop that runs their
lines as async jobs (`runner`), and the job workers' batch-aware events (`events`)."""
