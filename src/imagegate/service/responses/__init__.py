"""The Responses API's own work: its event stream, and answers kept 24 h for `previous_response_id`."""
