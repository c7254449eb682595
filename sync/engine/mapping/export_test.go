package mapping

// Decoded is how many mappings the cache's lists have read the columns of so far.
func (c *StatesCache) Decoded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decoded
}
