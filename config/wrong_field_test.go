package config

import (
	"strings"
	"testing"
)

// TestKeyInTheWrongFieldIsNotShown: the likeliest slips (the key given to
// key_file or key_from, the webhook URL to url_file) and YAML errors that
// quote with ' or ` must not show the key.
func TestKeyInTheWrongFieldIsNotShown(t *testing.T) {
	const key = "693a91f6-7f2e-4c1b-9d3e-5a6b7c8d9e0f"
	for name, yml := range map[string]string{
		"key_file given the key": "robots: {ops: {key_file: " + key + "}}\n",
		"url_file given the url": "robots: {ops: {url_file: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key + "'}}\n",
		"key_from given the key": "robots: {ops: {key_from: " + key + "}}\n",
		"yaml anchor":            "robots: {ops: {key: *" + key + "}}\n",
		"yaml explicit tag":      "robots:\n  ops:\n    key: !!int " + key + "\n",
	} {
		_, err := Load([]byte(yml), t.TempDir())
		if err == nil {
			t.Errorf("%s: loaded", name)
		} else if strings.Contains(err.Error(), key[:8]) {
			t.Errorf("%s: error reveals the key: %v", name, err)
		}
	}
}
