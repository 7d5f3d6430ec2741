"""Stateful local stand-ins for the Salesforce and Stripe APIs the pipeline uses.

The real clients (simple-salesforce, stripe-python) reach them over their real request paths, either in
process (`transport.in_process_session`) or over loopback HTTP (`transport.serve`).
"""
