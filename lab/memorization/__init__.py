"""The memorization ladder, Part I's chapter on the claimed ~70B threshold: canaries planted in a training stream
(``canaries``), fits of memorization against scale (``scaling``) and what the chapter's notebook calls
(``chapter``). It extracts with the shared greedy decoder (``lab.extraction``) and runs pretrained models through
Part I's backends (``lab.dynamics``)."""
