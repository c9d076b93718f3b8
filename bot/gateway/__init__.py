"""The edge to Slack: the Web API gateway, outbox delivery, and checks that ask Slack."""
