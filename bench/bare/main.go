// Command bare does nothing: the start of a Go program that links only the
// runtime, the lowest floor that bench/startup.sh measures pq against.
package main

func main() {}
