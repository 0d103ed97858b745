"""The case loop: report, accept, dispatch, handle, verify, rate; queries, deadlines, KPIs."""
