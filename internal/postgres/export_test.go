package postgres

// Hooks for package postgres_test, which has the test database.

// IOTimeout is how long a read or write on a database connection may block.
var IOTimeout = ioTimeout
