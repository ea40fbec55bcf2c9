package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/internal/service"
	"github.com/sluicehq/sluice/internal/service/client"
)

func init() {
	register(&command{name: "job", summary: "submit, list, stop, savepoint, resume and show the jobs of a running 'sluice serve'", run: jobCmd})
}

var jobCommands = map[string]*command{
	"submit":    {name: "submit", summary: "submit a SQL pipeline (FILE.sql) or a registered Go job (--go NAME)", run: jobSubmit},
	"list":      {name: "list", summary: "list the jobs", run: jobList},
	"show":      {name: "show", summary: "show a job: graph, operators, checkpoints, exceptions (--json for all)", run: jobShow},
	"stop":      {name: "stop", summary: "stop a job (--savepoint: after a savepoint)", run: jobStop},
	"savepoint": {name: "savepoint", summary: "take a savepoint of a running job", run: jobSavepoint},
	"resume":    {name: "resume", summary: "start a stopped or failed job again (--from PATH: from that savepoint)", run: jobResume},
}

func jobCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands(ctx, "job", jobCommands, args, stdout, stderr)
}

// jobFlags parses a job subcommand's flags (before or after its
// positional arguments) with --server, and returns its client and the
// positional arguments.
func jobFlags(name, synopsis, desc string, args []string, stderr io.Writer, define func(fs interface {
	String(string, string, string) *string
	Bool(string, bool, string) *bool
})) (*client.Client, []string, error) {
	fs := newFlagSet("job "+name, stderr)
	server := fs.String("server", "http://"+service.DefaultAddr, "URL of the 'sluice serve' to talk to")
	if define != nil {
		define(fs)
	}
	setUsage(fs, synopsis, desc)
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return client.New(*server), pos, nil
}

func jobSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var goName, name, savepoint *string
	var argList *string
	c, pos, err := jobFlags("submit", "sluice job submit FILE.sql | --go NAME [--args 'A B'] [--name N] [--savepoint PATH] [--server URL]",
		"Submits a job to a running 'sluice serve' and prints its id. A SQL file is one pipeline (its INSERT INTO or EXECUTE STATEMENT SET), its SETs (restart-strategy.*, execution.checkpointing.interval) apply; --go runs a Go job the binary registered.",
		args, stderr, func(fs interface {
			String(string, string, string) *string
			Bool(string, bool, string) *bool
		}) {
			goName = fs.String("go", "", "name of a registered Go job")
			argList = fs.String("args", "", "the Go job's arguments, separated by spaces")
			name = fs.String("name", "", "the job's name")
			savepoint = fs.String("savepoint", "", "start from this savepoint directory")
		})
	if err != nil {
		return err
	}
	spec := service.JobSpec{Name: *name, Go: *goName, Savepoint: *savepoint, Args: strings.Fields(*argList)}
	switch {
	case len(pos) > 1:
		return usageError("want one SQL file, got %q", pos)
	case len(pos) == 1 && *goName != "":
		return usageError("a SQL file and --go exclude each other")
	case len(pos) == 0 && *goName == "":
		return usageError("want a SQL file or --go NAME")
	case len(pos) == 1:
		src, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		spec.SQL = string(src)
	}
	v, err := c.Submit(ctx, spec)
	if err != nil {
		var ae *client.Error
		if errors.As(err, &ae) && ae.Code == "SQLError" && len(pos) == 1 {
			return fmt.Errorf("%s:\n%s", pos[0], ae.Message)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s\n", v.ID)
	fmt.Fprintf(stderr, "sluice job: job %q submitted: %s\n", v.Name, v.State)
	return nil
}

func oneID(pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usageError("want one job id, got %d arguments", len(pos))
	}
	return pos[0], nil
}

func jobList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, pos, err := jobFlags("list", "sluice job list [--server URL]", "Lists the jobs of a running 'sluice serve'.", args, stderr, nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected arguments %q", pos)
	}
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tSTATE\tRESTARTS\tSTARTED\tLAST EXCEPTION")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, j.Kind, j.State, j.Restarts, j.Started.Local().Format(time.DateTime), firstLine(j.LastException))
	}
	return tw.Flush()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

func jobShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON *bool
	c, pos, err := jobFlags("show", "sluice job show ID [--json] [--server URL]", "Shows a job: its state, graph, per-operator counters, checkpoints and exceptions.", args, stderr,
		func(fs interface {
			String(string, string, string) *string
			Bool(string, bool, string) *bool
		}) {
			asJSON = fs.Bool("json", false, "print the REST API's JSON (GET /v1/jobs/ID)")
		})
	if err != nil {
		return err
	}
	id, err := oneID(pos)
	if err != nil {
		return err
	}
	if *asJSON {
		var raw map[string]any
		if err := c.Get(ctx, "/v1/jobs/"+id, &raw); err != nil {
			return err
		}
		return printJSON(stdout, raw)
	}
	v, err := c.Job(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s %q (%s): %s, %d restarts\n", v.ID, v.Name, v.Kind, v.State, v.Restarts)
	if len(v.Operators) > 0 {
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OPERATOR\tPARALLELISM\tRECORDS IN\tRECORDS OUT\tBUSY ms\tBACKPRESSURED ms\tIDLE ms\tWATERMARK LAG ms")
		for _, op := range v.Operators {
			lag := "-"
			if op.WatermarkLagMs != nil {
				lag = fmt.Sprint(*op.WatermarkLagMs)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", op.Name, op.Parallelism, op.RecordsIn, op.RecordsOut, op.BusyMs, op.BackpressuredMs, op.IdleMs, lag)
		}
		tw.Flush()
	}
	if cp := v.Checkpoints.Latest; cp != nil {
		fmt.Fprintf(stdout, "latest checkpoint %d at %s: %.1f ms, %d bytes, alignment %.1f ms\n", cp.ID, cp.Completed.Local().Format(time.TimeOnly), cp.DurationMs, cp.SizeBytes, cp.AlignmentMs)
	}
	for _, sp := range v.Savepoints {
		fmt.Fprintf(stdout, "savepoint %s (%s)\n", sp.Path, sp.Time.Local().Format(time.DateTime))
	}
	for _, x := range v.Exceptions {
		fmt.Fprintf(stdout, "exception at %s (restart %d): %s\n", x.Time.Local().Format(time.DateTime), x.Restart, x.Message)
	}
	return nil
}

func jobStop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var withSP *bool
	c, pos, err := jobFlags("stop", "sluice job stop ID [--savepoint] [--server URL]", "Stops a running job; with --savepoint after a savepoint, which 'sluice job resume' starts from.", args, stderr,
		func(fs interface {
			String(string, string, string) *string
			Bool(string, bool, string) *bool
		}) {
			withSP = fs.Bool("savepoint", false, "take a savepoint first")
		})
	if err != nil {
		return err
	}
	id, err := oneID(pos)
	if err != nil {
		return err
	}
	v, err := c.Stop(ctx, id, *withSP)
	if err != nil {
		return err
	}
	if v.StoppedWith != nil {
		fmt.Fprintf(stdout, "%s\n", v.StoppedWith.Path)
	}
	fmt.Fprintf(stderr, "sluice job: job %s %s\n", id, v.State)
	return nil
}

func jobSavepoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, pos, err := jobFlags("savepoint", "sluice job savepoint ID [--server URL]", "Takes a savepoint of a running job and prints its directory.", args, stderr, nil)
	if err != nil {
		return err
	}
	id, err := oneID(pos)
	if err != nil {
		return err
	}
	sp, err := c.Savepoint(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", sp.Path)
	return nil
}

func jobResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from *string
	c, pos, err := jobFlags("resume", "sluice job resume ID [--from PATH] [--server URL]",
		"Starts a stopped or failed job again: from --from, else from the savepoint it was stopped with, else from its latest checkpoint.", args, stderr,
		func(fs interface {
			String(string, string, string) *string
			Bool(string, bool, string) *bool
		}) {
			from = fs.String("from", "", "savepoint (or checkpoint) directory to start from")
		})
	if err != nil {
		return err
	}
	id, err := oneID(pos)
	if err != nil {
		return err
	}
	v, err := c.Resume(ctx, id, *from)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sluice job: job %s %s\n", id, v.State)
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
