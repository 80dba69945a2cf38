"""Part III: the legal LoRA plan, executed on the statutes of Spain, Argentina, Uruguay and Chile.

``data`` builds the tasks, ``baselines`` the plan's baselines, ``lora`` trains adapters with peft (the defaults
of ``lora.LoraSettings`` are the plan's configuration), ``batches`` orders the training examples, ``evaluate``
predicts, scores, measures deployment and computes the plan's verdicts, ``criteria`` holds the plan's thresholds.
``runs`` declares the page's design (``LegalDesign``) and its run steps; ``report`` and ``figures`` show their
results (notebooks/p3_legal_lora.ipynb).
"""
