"""The edge to Slack: the Web API gateway (`slack.py`) and checks that ask Slack."""
