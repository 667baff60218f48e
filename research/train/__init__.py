"""Training: the generic loop (loop.py), the run contract (workdir.py), one trainer per model
family (word2vec.py, encoder.py) with its state and jitted step (*_step.py), and the family
registry (families.py) that launch.py dispatches on."""
