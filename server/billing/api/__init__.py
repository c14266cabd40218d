"""gRPC edge: protobuf in, commands to the use cases, results back to protobuf."""
