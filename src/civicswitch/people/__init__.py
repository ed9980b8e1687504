"""People: principals (API clients, connector clients, staff), roles and scopes, the policy, audit."""
