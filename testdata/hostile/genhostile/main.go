// Command genhostile writes the hostile PDF files of package hostile.
//
// Usage:
//
//	go run ./testdata/hostile/genhostile -dir DIR [NAME ...]
//
// It writes DIR/NAME.pdf for each case named (all cases by default) and
// prints each file's name and size.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"hashsign/testdata/hostile"
)

func main() {
	dir := flag.String("dir", ".", "directory to write the files into")
	list := flag.Bool("list", false, "list the cases and exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("genhostile: ")
	if *list {
		for _, c := range hostile.Cases() {
			fmt.Printf("%-20s %s\n", c.Name, c.What)
		}
		return
	}
	cases := hostile.Cases()
	if flag.NArg() > 0 {
		cases = cases[:0]
		for _, name := range flag.Args() {
			c, ok := hostile.Lookup(name)
			if !ok {
				log.Fatalf("no case %q (see -list)", name)
			}
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		path := filepath.Join(*dir, c.Name+".pdf")
		if err := c.WriteFile(path); err != nil {
			log.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\t%d\n", path, fi.Size())
	}
}
