"""Coursework: releases, the sandboxed worker, and the grader that never runs student code.

``minigrad.coursework.assignment`` (release, assignment.json) and ``minigrad.coursework.grading`` (the grader)
are the entry points. The grader's parts: ``cases`` (what to grade, on which inputs), ``compare`` (answers
against references), ``results`` (a task's score and the reports); and the parts it shares with the
release: the wire protocol (``protocol``), the worker process (``worker``) and its launcher (``sandbox``).
"""
