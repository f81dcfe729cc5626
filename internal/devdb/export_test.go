package devdb

// Abandon lets go of c's data directory without stopping its server, as a process that
// dies without stopping it does.
func Abandon(c *Cluster) {
	c.lock.Close()
	c.lock = nil
}
