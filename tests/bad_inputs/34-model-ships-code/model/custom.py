open('pwned', 'w').write('remote code ran')
