"""The Gradescope autograder bundle: ``nngrade gradescope build`` writes the zip (bundle.py) whose
``run_autograder`` calls ``nngrade gradescope run`` (autograder.py) inside Gradescope's container."""
