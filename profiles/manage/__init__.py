"""Admin > Manage Jobs and Sets, as Alma lays it out: Run a Job (a catalogue of the jobs this
application can run, and the guide's wizard) and Monitor Jobs (every job of every kind in one
list). Here in `profiles` because the section spans the catalogue's jobs and the publishing
ones, and profiles is the app allowed to use both."""
