"""Documents to chunks: finding and reading files, cleaning the text, chunking;
for a build, reading the corpus into pending items (`reading.py`) and their
records (`records.py`), which `stores.builder` embeds and stores."""
