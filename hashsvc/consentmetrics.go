package hashsvc

// code counts a one-time code or PIN event on channel.
func (m *metrics) code(channel, result string) {
	m.mu.Lock()
	m.codes[[2]string{channel, result}]++
	m.mu.Unlock()
}

// sad counts a SAD event.
func (m *metrics) sad(event string) { m.consentEvent("sad", event) }

// oneTime counts a one-time credential event.
func (m *metrics) oneTime(event string) { m.consentEvent("onetime", event) }

func (m *metrics) consentEvent(object, event string) {
	m.mu.Lock()
	m.consent[[2]string{object, event}]++
	m.mu.Unlock()
}
