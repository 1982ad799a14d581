module keysmith/transcripts/go-client

go 1.19
