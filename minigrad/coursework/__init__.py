"""Coursework: releases, the sandboxed worker, and the grader that never runs student code.

``minigrad.coursework.assignment`` (release, assignment.json) and ``minigrad.coursework.grading`` (the grader and
its reports) are the entry points; this package holds the parts they share: the wire
protocol (``protocol``), the worker process (``worker``) and its launcher (``sandbox``).
"""
