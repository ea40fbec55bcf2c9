package catalog

import "fmt"

// Register adds a table that was not declared in the script: one an
// embedding program provides (package sql/tableenv's Go streams). Its
// Factory names what reads it; a script's CREATE TABLE of the same name
// is then refused as a duplicate.
func (c *Catalog) Register(t *Table) error {
	if t.Name == "" || t.Factory == nil {
		return fmt.Errorf("catalog: a registered table needs a name and a factory")
	}
	if _, dup := c.tables[t.Name]; dup {
		return fmt.Errorf("Table `default_catalog`.`default_database`.`%s` already exists", t.Name)
	}
	if _, dup := c.views[t.Name]; dup {
		return fmt.Errorf("a view named '%s' exists", t.Name)
	}
	c.tables[t.Name] = t
	return nil
}
