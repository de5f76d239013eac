package main

import (
	"context"
	"os/exec"
	"strings"
)

// The gateway (`pades serve`, issue 11) is measured like pades batch: the
// same documents, posted to POST /v1/sign by h.o.workers clients at once,
// with the same signer, so that its docs/s is a ratio to pades batch's
// (target: at least 0.7).
//
// It is not in this build yet. When it lands, gateway below starts `pades
// serve` with a configuration naming the cell's signer (key file, or
// hashsvc -dev with its API key) on 127.0.0.1, posts each document of in
// as the body, writes each answer to out/dNNNNN.pdf, and returns the wall
// time, the gateway's CPU time (plus the service's) and peak RSS, like
// padesBatch; the rest (medians, ratios, the target, the chart's line)
// already handles the gateway cells.

// gatewayCells returns the gateway's configurations on in: the RSA key
// file and the remote signer with batches of 64, at B-B.
func gatewayCells(in *input) []cell {
	var cs []cell
	for i := range signerSpecs {
		s := &signerSpecs[i]
		if s.Name == "keyfile-rsa" || s.Name == "remote-rsa-b64" {
			cs = append(cs, cell{Engine: engGateway, Signer: s.Name, Level: "B-B", Mode: "copy", key: s.Key, spec: s})
		}
	}
	return cs
}

// gatewayMissing tells why the gateway cannot be measured with this build
// of pades, or "" when it can.
func (h *harness) gatewayMissing(ctx context.Context) string {
	out, _ := exec.CommandContext(ctx, h.env.pades, "serve", "-h").CombinedOutput()
	if strings.Contains(string(out), `unknown command "serve"`) {
		return "pades serve (the gateway of issue 11) is not in this build"
	}
	return "the harness does not drive pades serve yet (bench/harness/gateway.go)"
}

// gateway measures the gateway on in; see the comment at the top of the
// file.
func (h *harness) gateway(ctx context.Context, in *input, c cell, check bool) (sample, string, error) {
	return sample{}, "", errNotMeasured(h.gatewayMissing(ctx))
}
