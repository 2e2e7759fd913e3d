"""The HTTP API: Powertools resolvers, one per Lambda function, built from the routers in `routes`."""
