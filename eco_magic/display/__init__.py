"""What a measured cell shows: the card's lifecycle (:mod:`.card`), the live readout (:mod:`.live`), the card as
text and HTML (:mod:`.text`, :mod:`.html`, words shared in :mod:`.phrases`), number formats (:mod:`.fmt`), theme
colours and CSS (:mod:`.theme`), the power trace as SVG (:mod:`.svg`; a matplotlib figure on request:
:mod:`.plot`), Dask workers (:mod:`.workers`) and the ledger views (:mod:`.compare`)."""
