// The reference for Dockyard's template engine: Go's own text/template.
//
// Reads a JSON array of {"template": T, "data": D} from stdin and writes a JSON
// array of {"output": O} or {"error": E} (the error of parsing or executing, with
// what was written before it in "output"). Data is decoded as Python's json.loads
// does: integers stay integers (int), other numbers are float64.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"text/template"
)

type testCase struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
}

type result struct {
	Output string  `json:"output"`
	Error  *string `json:"error,omitempty"`
}

func pythonic(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = pythonic(x[i])
		}
	case map[string]interface{}:
		for k := range x {
			x[k] = pythonic(x[k])
		}
	}
	return v
}

func run(c testCase) (out result) {
	var data interface{}
	if len(c.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(c.Data))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			panic(err)
		}
		data = pythonic(data)
	}
	t, err := template.New("").Parse(c.Template)
	if err != nil {
		msg := err.Error()
		return result{Error: &msg}
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, data)
	out.Output = buf.String()
	if err != nil {
		msg := err.Error()
		out.Error = &msg
	}
	return out
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		panic(err)
	}
}
