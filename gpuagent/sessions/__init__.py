"""Notebooks and the shell: sessions in a job's environment, admitted, contained and recorded like runs."""
