package cms

// RequireOpenSSL serves the external test package cms_test, which may
// import the packages (hashsvc/devtrust) that import cms.
var RequireOpenSSL = requireOpenSSL
