"""The ticket: requests, the workflow state machine, its event log, deadlines and the clock."""
