"""Website visits and attribution (issue 13): the snippet's page views grouped into sessions, each session's source,
the number each visitor is shown (a source's number or one held from a pool), and the session behind a call, text
or chat written onto its interaction before it is offered."""
