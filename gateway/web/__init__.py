"""The HTTP side: staff API and console, citizen pages, Open311, webhooks mounted from
channels, health and metrics.  ``gateway.web`` imports ``gateway.core``, never a channel;
channel routes are handed in by the CLI.
"""
