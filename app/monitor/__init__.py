"""The monitor: a dashboard, a JSON API and Prometheus metrics over ``app.client.Client``.

It keeps no state of its own: every answer is read through the client's reader, so it
shows the same after a restart and works the same in local and cross-instance mode.
"""
