"""Example trainers on datasets that ship with scikit-learn."""
