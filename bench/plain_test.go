package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// The plain reference's createHolder must do the work the mutation does, so every field
// of createHolder's input has to land in the holder it creates: a field its JSON names
// did not match would be dropped, making the reference cheaper than the mutation.
func TestPlainCreateInputDecodesEveryField(t *testing.T) {
	d := &dataset{}
	d.nextDocument.Store(41)
	body := plainCreateWorkload(d).body(rand.New(rand.NewPCG(1, 2)), nil)

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var in plainCreateInput
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("the plain reference cannot decode createHolder's input %s: %v", body, err)
	}
	// DisallowUnknownFields covers every object but metadata (a map); check what arrived.
	switch {
	case in.Type != crm.NaturalPersonType, in.Name == "", in.Document != document(41), in.ExternalID == nil:
		t.Errorf("top-level fields: %+v", in)
	case in.Contact == nil || in.Contact.PrimaryEmail == nil || in.Contact.MobilePhone == nil:
		t.Errorf("contact: %+v", in.Contact)
	case in.Addresses == nil || in.Addresses.Primary == nil || in.Addresses.Primary.ZipCode == nil || in.Addresses.Primary.Country == nil:
		t.Errorf("addresses: %+v", in.Addresses)
	case in.NaturalPerson == nil || in.NaturalPerson.BirthDate == nil || in.NaturalPerson.BirthDate.String() != "1990-05-01" || in.NaturalPerson.Status == nil:
		t.Errorf("naturalPerson: %+v", in.NaturalPerson)
	case in.Metadata["segment"] != "retail":
		t.Errorf("metadata: %v", in.Metadata)
	}
	if d.nextDocument.Load() != 42 {
		t.Errorf("next document %d, want 42: each body takes a fresh document", d.nextDocument.Load())
	}
}

// The mutation's $in and the plain reference's body are the same JSON for the same
// document and random choices.
func TestCreateWorkloadsSendTheSameInput(t *testing.T) {
	gql, plain := &dataset{}, &dataset{}
	gqlBody := createWorkload(gql).body(rand.New(rand.NewPCG(3, 4)), nil)
	plainBody := plainCreateWorkload(plain).body(rand.New(rand.NewPCG(3, 4)), nil)

	var req struct {
		Query     string `json:"query"`
		Variables struct {
			In json.RawMessage `json:"in"`
		} `json:"variables"`
	}
	if err := json.Unmarshal(gqlBody, &req); err != nil {
		t.Fatalf("createHolder body %s: %v", gqlBody, err)
	}
	if req.Query != createMutation {
		t.Errorf("query %q, want %q", req.Query, createMutation)
	}
	if !bytes.Equal(req.Variables.In, plainBody) {
		t.Errorf("$in\n%s\nplain body\n%s", req.Variables.In, plainBody)
	}
}
